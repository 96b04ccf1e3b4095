"""Memory formulas, activation model, strategy choice (pure) and model inspection (edge, meta device)."""
