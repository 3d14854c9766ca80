"""Review of what the tablets send: the case workflow, deadlines (electronic supervision), the supervisors' and
inspectors' queues, tablet sync health, exports. Pages in routes.py; logic in workflow.py, deadlines.py, queue.py,
exports.py (no Flask request object there)."""
