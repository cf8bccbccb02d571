"""TAAF Studio engine: data, spiking network, training loop and run store (no UI code here)."""
