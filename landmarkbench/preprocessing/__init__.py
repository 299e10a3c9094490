"""What turns an image into a network input and back: the grid geometry (``geometry``) and
the network input (``network_input``: resize-with-pad, intensity normalisation). Torch and
numpy only, nothing of training: exported models apply it without the training code."""
