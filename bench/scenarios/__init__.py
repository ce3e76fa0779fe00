"""What can be measured: workload and model specs, user workloads, the grid, profiles."""
