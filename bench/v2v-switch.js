#!/usr/bin/env node
// The agent's datapath as a switch for ../shared/bench/v2v-loopback.sh (its `cmd:` switch):
// one bridge with MAC learning, two vhost-user ports at $SOCK0 and $SOCK1 (servers, or clients of
// QEMU's sockets with PORT_MODE=client, as bench/v2v-tcp.ts uses them), one PMD on
// CPU 1 (Node's main thread floats over CPUs 0-1). Forwards until SIGTERM/SIGINT, then shuts
// down cleanly. Prints port and PMD counters every 5 s.
'use strict';
const path = require('path');

const sock0 = process.env.SOCK0;
const sock1 = process.env.SOCK1;
if (!sock0 || !sock1) {
  console.error('v2v-switch: SOCK0 and SOCK1 must be set to the two vhost-user socket paths');
  process.exit(2);
}
const dp = require(path.join(__dirname, '../datapath/native/build/Release/vhostnet_datapath.node'));

const pmdCpus = (process.env.PMD_CPUS || '1').split(',').map(Number);
const info = dp.init({
  filePrefix: process.env.FILE_PREFIX || 'v2vagent',
  mainCpus: [0, 1],
  pmdCpus,
  hugepages: true,
  memoryMb: 256,
  iommuSupport: false,
  pmdMaxSleepUs: Number(process.env.PMD_MAX_SLEEP_US || 0),
  extraArgs: ['--log-level=lib.eal:warning'],
});
console.log('init', JSON.stringify(info));
const br = dp.createBridge();
const mode = process.env.PORT_MODE || 'server';
const p0 = dp.createPort({ bridge: br, mode, path: sock0 });
const p1 = dp.createPort({ bridge: br, mode, path: sock1 });
console.log('ports', p0, p1, 'on bridge', br);

const timer = setInterval(() => {
  const a = dp.portInfo(p0),
    b = dp.portInfo(p1);
  console.log(JSON.stringify({ p0: a.stats, p1: b.stats, neg0: a.negotiatedFeatures, fdb: dp.fdb(br), pmds: dp.pmdStats() }));
}, 5000);

let stopping = false;
function stop(sig) {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  console.log('stopping on', sig);
  dp.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
