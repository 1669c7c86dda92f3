"""The style plugin's torch half: Gatys et al.'s optimisation on the shared backbone's features."""
