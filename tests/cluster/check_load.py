#!/usr/bin/env python3
"""Sends anonymous checks for one client address to a sluiced check API at a
steady rate and prints how many were allowed and refused, as JSON.

usage: check_load.py --rate R --seconds S [--client IP] [--port 9465]
"""
import argparse
import http.client
import json
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--client", default="198.19.7.7")
    parser.add_argument("--port", type=int, default=9465)
    args = parser.parse_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
    headers = {"X-Original-Method": "GET", "X-Original-URI": "/v1/items", "X-Real-IP": args.client}
    allowed = refused = errors = 0
    start = time.monotonic()
    n = 0
    while True:
        due = start + n / args.rate
        now = time.monotonic()
        if due - start >= args.seconds:
            break
        if due > now:
            time.sleep(due - now)
        n += 1
        try:
            conn.request("GET", "/v1/check", headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                allowed += 1
            else:
                refused += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
    print(json.dumps({"allowed": allowed, "refused": refused, "errors": errors}))


if __name__ == "__main__":
    main()
