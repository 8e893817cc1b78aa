#!/usr/bin/env node
// Generates a value-tree-shaped contribution graph, writes it as TSV (for valuetree to load
// the very same graph), and runs SourceCred 0.11.2's CredRank on it, offline.
//
//   node --max-old-space-size=16384 credrank.js --nodes 100000 --edges 1000000 \
//        --participants 1000 --seed 1 --tsv graph.tsv
//
// Shape: NEED <- OBJECTIVE <- PROJECT <- DELIVERABLE (a SUPPORTS edge from child to parent),
// people AUTHOR deliverables, deliverables DEPEND on earlier deliverables. Value is minted at
// NEED and OBJECTIVE nodes (realised value) and flows down to the people who did the work.
// TSV lines: `N <id> <type> <mint> <timestampMs>` and `E <src> <dst> <type> <timestampMs>`.
"use strict";
const fs = require("fs");
const sc = require(process.env.SOURCECRED_DIR || "sourcecred").sourcecred;
const {NodeAddress: NA, EdgeAddress: EA, Graph} = sc.core.graph;

const args = {nodes: 100000, edges: 1000000, participants: 1000, seed: 1, tsv: "graph.tsv"};
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, "");
  if (!(key in args)) throw new Error("unknown flag --" + key);
  args[key] = typeof args[key] === "number" ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
let s = args.seed | 0; // mulberry32: deterministic
const rnd = () => { s = (s + 0x6d2b79f5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const ri = (n) => Math.floor(rnd() * n);
const T0 = Date.UTC(2023, 0, 2), SPAN = 52 * 7 * 864e5;

const started = Date.now();
const graph = new Graph(), weights = sc.core.weights.empty(), ledger = new sc.ledger.ledger.Ledger();
const tsv = [];
const P = args.participants, C = args.nodes - P;
const users = [];
for (let i = 0; i < P; i++) {
  const address = NA.fromParts(["vt", "USER", String(i)]);
  graph.addNode({address, description: "user" + i, timestampMs: null});
  ledger.addAlias(ledger.createIdentity("USER", "user" + i), {address, description: "user" + i});
  users.push(address);
  tsv.push(`N\tuser${i}\tUSER\t0\t`);
}
const nNeed = Math.max(1, Math.floor(C * 0.001)), nObj = Math.max(1, Math.floor(C * 0.01));
const nProj = Math.max(1, Math.floor(C * 0.05)), d0 = nNeed + nObj + nProj;
const level = (j) => (j < nNeed ? "NEED" : j < nNeed + nObj ? "OBJECTIVE" : j < d0 ? "PROJECT" : "DELIVERABLE");
weights.nodeWeights.set(NA.fromParts(["vt", "USER"]), 0);
for (const t of ["PROJECT", "DELIVERABLE"]) weights.nodeWeights.set(NA.fromParts(["vt", t]), 0);
weights.edgeWeights.set(EA.fromParts(["vt", "SUPPORTS"]), {forwards: 1 / 8, backwards: 1});
weights.edgeWeights.set(EA.fromParts(["vt", "DEPENDS"]), {forwards: 1, backwards: 0});
weights.edgeWeights.set(EA.fromParts(["vt", "AUTHORS"]), {forwards: 1 / 16, backwards: 1});
const nodes = [];
for (let j = 0; j < C; j++) {
  const t = level(j), ts = T0 + ri(SPAN), address = NA.fromParts(["vt", t, String(j)]);
  graph.addNode({address, description: t + j, timestampMs: ts});
  let mint = 0;
  if (t === "NEED" || t === "OBJECTIVE") {
    mint = 1 + ri(100);
    weights.nodeWeights.set(address, mint);
  }
  nodes.push({address, ts, t});
  tsv.push(`N\tc${j}\t${t}\t${mint}\t${ts}`);
}
let e = 0;
const edge = (type, src, dst, ts, srcId, dstId) => {
  graph.addEdge({address: EA.fromParts(["vt", type, String(e++)]), src, dst, timestampMs: ts});
  tsv.push(`E\t${srcId}\t${dstId}\t${type}\t${ts}`);
};
const parents = {OBJECTIVE: [0, nNeed], PROJECT: [nNeed, nObj], DELIVERABLE: [nNeed + nObj, nProj]};
for (let j = nNeed; j < C && e < args.edges; j++) {
  const [lo, n] = parents[nodes[j].t];
  const k = lo + ri(n);
  edge("SUPPORTS", nodes[j].address, nodes[k].address, nodes[j].ts, "c" + j, "c" + k);
}
const person = () => Math.floor(P * rnd() * rnd()); // a few people do much of the work
for (let j = d0; j < C && e < args.edges; j++) {
  const u = person();
  edge("AUTHORS", users[u], nodes[j].address, nodes[j].ts, "user" + u, "c" + j);
}
while (e < args.edges) {
  const j = d0 + ri(C - d0);
  if (rnd() < 0.5) {
    const u = person();
    edge("AUTHORS", users[u], nodes[j].address, nodes[j].ts, "user" + u, "c" + j);
  } else {
    const k = d0 + ri(C - d0);
    if (k !== j) edge("DEPENDS", nodes[j].address, nodes[k].address, nodes[j].ts, "c" + j, "c" + k);
  }
}
fs.writeFileSync(args.tsv, tsv.join("\n") + "\n");
const built = Date.now();
sc.api.credrank
  .credrank({
    pluginGraphs: [{graph, weights}],
    ledger,
    dependencies: [],
    weightOverrides: sc.core.weights.empty(),
    pluginsBudget: null,
    personalAttributions: [],
  })
  .then(({credGraph}) => {
    const done = Date.now();
    const top = [...credGraph.participants()].sort((a, b) => b.cred - a.cred).slice(0, 5);
    console.log(
      `sourcecred credrank: nodes=${args.nodes} edges=${e} participants=${P} ` +
        `build_s=${((built - started) / 1000).toFixed(1)} credrank_s=${((done - built) / 1000).toFixed(1)} ` +
        `rss_MiB=${Math.round(process.memoryUsage().rss / 2 ** 20)}`
    );
    for (const p of top) console.log(`  ${p.description}\tcred=${p.cred.toFixed(2)}`);
  });
