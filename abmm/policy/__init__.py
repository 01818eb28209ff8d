"""Trading policies that need no learner: closed-form market-making strategies."""
