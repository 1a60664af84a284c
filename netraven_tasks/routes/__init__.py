"""Routes: shared destinations (a NOC channel, an on-call service) told of matching events."""
