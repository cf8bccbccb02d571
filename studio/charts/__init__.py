"""Pure figure builders (plotly, no Streamlit): curves, entropy, attention, rasters and membranes, the Inspect
page's figures, the Neuron lab's, and the studio's figure template (figbuild)."""
