"""The thidua service side: the gRPC service, persistence, config, logging, CLI."""
