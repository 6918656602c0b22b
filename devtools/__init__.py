"""Developer tooling run from the checkout, never shipped: the sandbox (emulator), the stack launcher, the demo."""
