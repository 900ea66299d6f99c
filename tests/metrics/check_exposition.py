#!/usr/bin/python3
"""Reads Prometheus scrapes (text format 0.0.4, one file each, in the order they
were taken) with the parser of Debian's python3-prometheus-client, and checks
what a Prometheus server relies on:
  - within a scrape, no two samples share a metric name and label set (the
    server drops all but one);
  - every sample of a counter family is named *_total, and no other family
    uses that suffix;
  - across consecutive scrapes, every counter sample present in both never
    goes down (a fall reads as a counter reset).
Prints one line per problem and exits 1 if there is any; 0 and a summary
otherwise."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def read(path):
    samples, problems = {}, []
    with open(path, encoding="utf-8") as f:
        families = list(text_string_to_metric_families(f.read()))
    for family in families:
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in samples:
                problems.append(f"{path}: repeated sample {sample.name}{dict(key[1])}")
            is_total = sample.name.endswith("_total")
            if family.type == "counter" and not is_total:
                problems.append(f"{path}: counter sample {sample.name} is not named *_total")
            if family.type != "counter" and is_total:
                problems.append(f"{path}: {family.type} {sample.name} is named like a counter")
            samples[key] = (family.type, sample.value)
    return samples, problems


def main(paths):
    scrapes, problems = [], []
    for path in paths:
        samples, found = read(path)
        scrapes.append(samples)
        problems += found
    compared = 0
    for n in range(1, len(scrapes)):
        before, after = scrapes[n - 1], scrapes[n]
        for key, (kind, value) in after.items():
            if kind != "counter" or key not in before:
                continue
            compared += 1
            if value < before[key][1]:
                problems.append(f"scrape {n} -> {n + 1}: {key[0]}{dict(key[1])} went down "
                                f"from {before[key][1]} to {value}")
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{len(scrapes)} scrapes, {sum(len(s) for s in scrapes)} samples, "
          f"{compared} counter samples compared: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
