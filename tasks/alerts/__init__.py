"""Alert evaluation: rules in the store, instances with a state machine kept in the store, and
the FIRING and RESOLVED notices they send through the notification channels."""

#: Seconds between two runs of the evaluator (``maintenance.alerts``); a rule's interval is a
#: whole number of ticks.
TICK_S = 10
