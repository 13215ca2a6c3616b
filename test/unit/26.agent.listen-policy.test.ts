// The agent serves clear text on TCP only on loopback, or when told to with --insecure-tcp.
import { strict as assert } from 'node:assert';
import { checkListenPolicy, isLoopback } from '../../datapath/agent/listen-policy';

describe('26 agent: the listen policy (TLS beyond loopback)', () => {
  it('allows a unix socket, loopback TCP, and TLS anywhere', () => {
    assert.equal(checkListenPolicy({ listen: 'unix:/run/vhostnet/agent.sock' }), undefined);
    for (const l of ['tcp://127.0.0.1:8470', 'tcp://127.9.0.1:1', 'tcp://localhost:8470', 'tcp://[::1]:8470'])
      assert.equal(checkListenPolicy({ listen: l }), undefined, l);
    assert.equal(checkListenPolicy({ listen: 'tcp://0.0.0.0:8470', tlsCert: '/c', tlsKey: '/k' }), undefined);
  });

  it('refuses clear text beyond loopback, naming the options', () => {
    for (const l of ['tcp://0.0.0.0:8470', 'tcp://169.254.0.1:8470', 'tcp://[::]:8470', 'tcp://agent.example:1', 'tcp://128.0.0.1:1'])
      assert.throws(() => checkListenPolicy({ listen: l }), /needs --tls-cert and --tls-key .*or --insecure-tcp/, l);
  });

  it('--insecure-tcp allows it with a warning', () => {
    assert.match(
      checkListenPolicy({ listen: 'tcp://0.0.0.0:8470', insecureTcp: true }) ?? '',
      /warning: --insecure-tcp: .*clear text on tcp:\/\/0\.0\.0\.0:8470/,
    );
  });

  it('a certificate needs its key and the other way round', () => {
    assert.throws(() => checkListenPolicy({ listen: 'tcp://0.0.0.0:1', tlsCert: '/c' }), /--tls-cert and --tls-key must be given together/);
    assert.throws(() => checkListenPolicy({ listen: 'tcp://127.0.0.1:1', tlsKey: '/k' }), /--tls-cert and --tls-key must be given together/);
  });

  it('knows loopback addresses', () => {
    assert.deepEqual(['127.0.0.1', '::1', '[::1]', '::ffff:127.0.0.1', 'LOCALHOST', '10.0.0.1', '::', '1.127.0.0'].map(isLoopback), [
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
