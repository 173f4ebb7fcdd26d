/**
 * The fault harness's checker: from the clients' operation logs and the list read at the end
 * (from the master every sentinel agrees on, once all replicas have caught up), it counts
 *
 *  - lost:        list values whose RPUSH was acknowledged (ok true) but that are absent;
 *  - duplicated:  values present more than once (a client library resending a write whose
 *                 reply it never saw);
 *  - unexpected:  values present that no client ever sent (must be 0: a checker sanity check);
 *  - stale reads: GETs of a register that returned a value older than one whose SET had been
 *                 acknowledged before the GET was sent (null reads count as 0);
 *  - unknown:     writes with no reply (timeout, connection lost) — neither acked nor lost.
 */
export function check(ops, finalList) {
  const counts = new Map();
  for (const v of finalList) counts.set(v, (counts.get(v) ?? 0) + 1);
  const sent = new Set();
  const r = { acked: 0, lost: 0, duplicated: 0, unexpected: 0, refused: 0, unknown: 0, reads: 0, staleReads: 0, lostValues: [] };
  for (const op of ops) {
    if (op.k !== 'list') continue;
    sent.add(op.v);
    if (op.ok === true) {
      r.acked++;
      if (!counts.has(op.v)) {
        r.lost++;
        if (r.lostValues.length < 10) r.lostValues.push(op.v);
      }
    } else if (op.ok === false) r.refused++;
    else r.unknown++;
  }
  for (const [v, c] of counts) {
    if (c > 1) r.duplicated += c - 1;
    if (!sent.has(v)) r.unexpected++;
  }
  // Acknowledged SETs per register, by completion time.
  const acks = new Map();
  for (const op of ops) {
    if (op.k !== 'set' || op.ok !== true) continue;
    let l = acks.get(op.r);
    if (l === undefined) acks.set(op.r, (l = []));
    l.push(op);
  }
  for (const op of ops) {
    if (op.k !== 'get' || op.ok !== true) continue;
    r.reads++;
    const got = op.n ?? 0;
    let newest = 0;
    for (const w of acks.get(op.r) ?? []) if (w.t1 < op.t0 && w.n > newest) newest = w.n;
    if (got < newest) r.staleReads++;
  }
  return r;
}
