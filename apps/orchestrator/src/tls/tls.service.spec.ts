import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config';
import { SecurityEvents, type SecurityEvent, type SecurityEventSink } from '../events/security-events';
import { FsDirectoryWatcher } from './directory-watcher';
import { buildHttpsOptions, readTlsMaterial, TlsMaterialError, type TlsFiles } from './tls-material';
import { TlsService } from './tls.service';

const CLI = fileURLToPath(new URL('../../../../packages/cli/shieldx.mjs', import.meta.url));
const LIMITS = {
  handshakeTimeoutMs: 1000,
  requestHeadersTimeoutMs: 1000,
  requestTimeoutMs: 1000,
  maxHeaderBytes: 8192,
};

/** Keeps the events it is given: a real sink, as the ledger writer will be. */
class CollectingSink implements SecurityEventSink {
  readonly events: SecurityEvent[] = [];
  write(event: SecurityEvent): void {
    this.events.push(event);
  }
}

describe(TlsService.name, () => {
  let root: string;
  let live: string;
  let files: TlsFiles;
  let now: number;
  let sink: CollectingSink;
  let server: Server;
  let service: TlsService;

  beforeAll(() => {
    // The service's own log lines are not under test here.
    Logger.overrideLogger(false);
    root = mkdtempSync(join(tmpdir(), 'shieldx-tls-service-'));
    for (const dir of ['a', 'b'])
      execFileSync(process.execPath, [CLI, 'certs', 'dev', join(root, dir), '--no-clients']);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeEach(() => {
    live = mkdtempSync(join(root, 'live-'));
    for (const f of ['server.pem', 'server.key', 'ca.pem']) copyFileSync(join(root, 'a', f), join(live, f));
    files = {
      certFile: join(live, 'server.pem'),
      keyFile: join(live, 'server.key'),
      clientCaFile: join(live, 'ca.pem'),
    };
    const { config } = loadConfig({
      ORCH_TLS_CERT_FILE: files.certFile,
      ORCH_TLS_KEY_FILE: files.keyFile,
      ORCH_TLS_CLIENT_CA_FILE: files.clientCaFile,
    });
    now = Date.now();
    sink = new CollectingSink();
    service = new TlsService(
      config,
      { now: () => now },
      new FsDirectoryWatcher(),
      { debounceMs: 20, pollMs: 60_000 },
      new SecurityEvents([sink]),
    );
    const material = readTlsMaterial(files, now);
    server = createServer(buildHttpsOptions(material, LIMITS));
    service.attach(server, material);
  });

  afterEach(() => {
    service.onApplicationShutdown();
    server.close();
  });

  it('refuses a set whose key belongs to another certificate at boot, naming the key file', () => {
    copyFileSync(join(root, 'b', 'server.key'), files.keyFile);
    expect(() => readTlsMaterial(files, now)).toThrow(TlsMaterialError);
    expect(() => readTlsMaterial(files, now)).toThrow(`TLS file '${files.keyFile}' does not belong to the certificate`);
  });

  it('does nothing when the files are rewritten with the same bytes', () => {
    copyFileSync(join(root, 'a', 'server.pem'), files.certFile);
    expect(service.reload()).toEqual({ status: 'unchanged' });
    expect(sink.events).toEqual([]);
  });

  it('reports a broken set once however often it is re-read, and loads the next good one', () => {
    const serving = service.current?.fingerprint256;
    copyFileSync(join(root, 'b', 'server.key'), files.keyFile);
    expect(service.reload()).toMatchObject({ status: 'rejected', file: files.keyFile });
    expect(service.reload()).toMatchObject({ status: 'rejected', file: files.keyFile });
    expect(sink.events.map((e) => e.type)).toEqual(['tls.rejected']);
    expect(sink.events[0]?.data).toMatchObject({ file: files.keyFile, keptFingerprint: serving });
    expect(service.current?.fingerprint256).toBe(serving);

    copyFileSync(join(root, 'b', 'server.pem'), files.certFile);
    const outcome = service.reload();
    expect(outcome).toMatchObject({ status: 'loaded' });
    expect(service.current?.fingerprint256).not.toBe(serving);
    expect(sink.events.at(-1)).toMatchObject({ type: 'tls.reloaded', data: { previousFingerprint: serving } });
  });

  it('reloads by itself after a change in the watched directory', async () => {
    const reloaded = service.nextReload();
    copyFileSync(join(root, 'b', 'server.key'), files.keyFile);
    copyFileSync(join(root, 'b', 'server.pem'), files.certFile);
    expect(await reloaded).toMatchObject({ status: 'loaded' });
  });

  it('counts the seconds left by its clock and says expired at notAfter', () => {
    const notAfter = service.current!.notAfter;
    expect(service.secondsLeft()).toBeCloseTo((notAfter - now) / 1000, 3);
    expect(service.expired()).toBe(false);
    now = notAfter;
    expect(service.expired()).toBe(true);
    expect(service.secondsLeft()).toBe(0);
    // An expired set is not loaded either.
    copyFileSync(join(root, 'b', 'server.key'), files.keyFile);
    copyFileSync(join(root, 'b', 'server.pem'), files.certFile);
    now = service.current!.notAfter + 365 * 86_400_000;
    expect(service.reload()).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^expired on/) });
  });
});
