"""``python -m bench dhtsim``: the DHT at internet scale, simulated in virtual time.

model.py: the numbers of the simulated Internet (per-pair RTT law, session lengths).
world.py: hosts, NAT, the event queue; drives `DhtNode` cores as aio/dht.py does.
scenario.py: routers, the population and its churn, announces, the measured lookups.
run.py: the command line, the summary and the RESULTS.md section.
"""
