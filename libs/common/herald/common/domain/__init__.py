"""Pure domain rules shared by services: states and transitions, no I/O."""
