import assert from 'node:assert/strict';
import { splitAtPrompt } from '../../helpers/testpmd';

// The testpmd guest helper waits for testpmd's prompt after each command. cmdline writes the
// prompt a character at a time, so another DPDK thread's log line can split it (a clean-clone
// CI run of test 51 timed out on exactly the output below).
describe('testpmd guest: finding the prompt', () => {
  it('finds a whole prompt and keeps what follows it', () => {
    assert.deepEqual(splitAtPrompt('Link status: up\ntestpmd> Port 0: link state change event\n'), {
      before: 'Link status: up\n',
      after: 'Port 0: link state change event\n',
    });
  });

  it('finds a prompt split by a log line from another thread, and keeps that line in the output', () => {
    const out = 'Device error handling mode: none\ntestpmdvhost_user_update_link_state(): virtio-user port 0 is down\n> vhost_user_server_disconnect(): x\n';
    assert.deepEqual(splitAtPrompt(out), {
      before: 'Device error handling mode: none\nvhost_user_update_link_state(): virtio-user port 0 is down\n',
      after: 'vhost_user_server_disconnect(): x\n',
    });
  });

  it('finds a prompt split in several places by several lines', () => {
    const r = splitAtPrompt('x\ntest\nA: 1\nB: 2\npmd>\nC: 3\n rest');
    assert.deepEqual(r, { before: 'x\n\nA: 1\nB: 2\n\nC: 3\n', after: 'rest' });
  });

  it('waits while the prompt is incomplete, and does not take output for a prompt', () => {
    assert.equal(splitAtPrompt('Link status: up\ntestpmd'), undefined);
    assert.equal(splitAtPrompt('Link status: up\ntestpmdvhost_user_update_link_state(): down\n'), undefined);
    assert.equal(splitAtPrompt('Current number of RX queues: 1\nest\nMax possible\n'), undefined);
  });
});
