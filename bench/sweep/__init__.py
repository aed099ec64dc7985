"""The seed's scalability sweep (issue 15, target 6): T_all against the number of leechers.

`python -m bench sweep` (run.py) runs the lab (bitswarm_lab) with 1, 2, 4, ... 32 leechers
behind one rate-limited seeder, peer-to-peer and client-server, and writes a table
(report.py) and a plot (plot.py) of T_all and the Kumar–Ross bound against N.
"""
