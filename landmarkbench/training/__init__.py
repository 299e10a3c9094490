"""Training machinery shared by the learned methods (device, seeds, loop, augmentation)."""
