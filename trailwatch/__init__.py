"""trailwatch core: the detection catalog and everything derived from it, free of Pulumi."""
