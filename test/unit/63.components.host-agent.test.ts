// HostAgent's pure parts: where clients reach the agent, what its certificate names, what is
// refused before anything runs on a host.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { agentEndpoint, caCertOf, hostAgentSettings, serverAltNames } from '../../components/host-agent';

describe('63 components: HostAgent settings, endpoint and certificate names', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-unit63-'));
  const pkg = path.join(dir, 'vhostnet-agent_0.1.0+abc_amd64.deb');
  fs.writeFileSync(pkg, 'not really a package');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const conn = { host: 'h', privateKey: 'k' };

  it('the endpoint is https on TCP: the listen address, or the SSH host for a wildcard', () => {
    assert.equal(agentEndpoint('tcp://127.0.0.1:8470', '10.0.0.5'), 'https://127.0.0.1:8470');
    assert.equal(agentEndpoint('tcp://0.0.0.0:8470', '10.0.0.5'), 'https://10.0.0.5:8470');
    assert.equal(agentEndpoint('tcp://[::]:8470', 'fd00::5'), 'https://[fd00::5]:8470');
    assert.equal(agentEndpoint('tcp://0.0.0.0:8470', 'agent-1.example'), 'https://agent-1.example:8470');
    assert.equal(agentEndpoint('unix:/run/vhostnet/agent.sock', 'h'), 'unix:/run/vhostnet/agent.sock');
  });

  it('the server certificate names the endpoint host and loopback (for the readiness probe)', () => {
    assert.equal(serverAltNames('tcp://0.0.0.0:8470', '10.0.0.5'), 'IP:10.0.0.5,IP:127.0.0.1,DNS:localhost');
    assert.equal(serverAltNames('tcp://0.0.0.0:8470', 'agent-1.example'), 'DNS:agent-1.example,IP:127.0.0.1,DNS:localhost');
    assert.equal(serverAltNames('tcp://127.0.0.1:8470', '10.0.0.5'), 'IP:127.0.0.1,DNS:localhost');
    assert.equal(serverAltNames('tcp://[::]:8470', '[fd00::5]'), 'IP:fd00::5,IP:127.0.0.1,DNS:localhost');
  });

  it('the CA certificate is found in what the TLS step printed', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    assert.equal(caCertOf(`# server sha256 Fingerprint=AB\n${pem}\n`), `${pem}\n`);
    assert.throws(() => caCertOf('openssl: not found'), /the TLS step printed no CA certificate/);
  });

  it('refuses bad input naming the field', () => {
    assert.equal(hostAgentSettings('h', { connection: conn, package: pkg }).listen, 'tcp://127.0.0.1:8470');
    const refused = (a: object, re: RegExp) => assert.throws(() => hostAgentSettings('h', { connection: conn, package: pkg, ...a }), re);
    refused({ package: 'relative/vhostnet-agent_1_amd64.deb' }, /HostAgent 'h': package must be the absolute path of a vhostnet-agent_<version>_amd64\.deb/);
    refused({ package: path.join(dir, 'vhostnet-agent_2_amd64.deb') }, /package must be an existing file/);
    refused({ installDir: '/opt/vhostnet' }, /installDir is no longer an input: the agent is installed from its Debian package/);
    refused({ tls: { caCert: 'x' } }, /tls must be \{ caCert, caKey \}/);
    refused({ agentArgs: ['--tls-cert=/x'] }, /agentArgs\[0\] must not set what HostAgent sets/);
    refused({ agentArgs: ['--insecure-tcp'] }, /agentArgs\[0\] must not set what HostAgent sets/);
    refused({ version: '../x' }, /version must be 1-64 letters/);
  });
});
