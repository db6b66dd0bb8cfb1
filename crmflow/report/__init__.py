"""crmflow's business report: `report.html` of a run (and a sweep's page), built from what the run logged."""

from crmflow.report.headline import NOTE_TAG, REPORT_FILE
from crmflow.report.run_report import log_run_report, run_report

__all__ = ["NOTE_TAG", "REPORT_FILE", "log_run_report", "run_report"]
