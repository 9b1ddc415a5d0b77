"""`podlayout batch`: many inputs solved in parallel child processes, resumable, and split
into balanced shards for several machines (a Kubernetes Indexed Job).

- `naming`: each input's stable output name, from its path;
- `shards`: which inputs a shard owns (`--shard I/N`, `--shards N`);
- `keys`: the content hash that lets `--resume` trust a result already written;
- `records`: the per-input record beside each report, and the summary built from records;
- `worker`: one input solved in a child process;
- `pool`: the child processes, their time and memory limits, and Ctrl-C;
- `runner`: the whole run: select, skip, solve, write, report;
- `index`: the index page (html, markdown) listing every input.
"""
