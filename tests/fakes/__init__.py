"""Contract fakes: real HTTP servers answering as the platforms' documented APIs answer."""
