"""Monitoring and evaluation: the programme's figures (coverage, invitations, kits,
operators, review queue, readiness) as queries over HQ's register, and the reports built
from them (``rekam-hq report``) and shown by the dashboard (``hq.web``)."""
