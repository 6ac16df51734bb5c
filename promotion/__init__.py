"""Model promotion: the gate that compares challenger and champion, rollback, the champion history and the
checks a version must pass (its stored validation sample, scored through the serving code)."""
