"""Analysis of recurrent dynamics: Jacobians through time, Lyapunov spectra, gradient flow."""
