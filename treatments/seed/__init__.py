"""Data that is not the clinic's: the demo clinic (`seed_demo`) and the benchmark's
clinic at scale (`seed_scale`). Seeding writes rows directly, in bulk where it must."""
