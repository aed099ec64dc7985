"""The daemon benchmark's parts (`python -m bench daemon`, bench/daemon.py).

load.py makes the N torrents, procs.py runs and measures processes, rpc.py speaks HTTP
(Transmission RPC, qBittorrent API), clients.py drives bitswarm, transmission-daemon and
qbittorrent-nox alike, webui.py times bitswarm's web UI in Chromium, remote_fields.py finds
what `transmission-remote -l` asks for, report.py writes the RESULTS.md section.
"""
