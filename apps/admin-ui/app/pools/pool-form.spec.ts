import { describe, expect, it } from 'vitest';
import { parseLines, toLines } from './pool-form';

describe(parseLines.name, () => {
  it('reads one backend per line, with an optional weight, skipping blanks and comments', () => {
    const result = parseLines('# api\nhttp://127.0.0.1:9001 3\n\n127.0.0.1:9002\nhttps://api.internal:8443/\n', 'p2c');
    expect(result).toEqual({
      ok: true,
      body: {
        urls: ['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'https://api.internal:8443'],
        algo: 'p2c',
        weights: { 'http://127.0.0.1:9001': 3 },
      },
    });
  });

  it('names each bad line', () => {
    const result = parseLines('ftp://x:21\nhttp://a:1 0\nhttp://a:1\nhttp://a:1/\nhttp://b:1 2 3\nhttp://[::1', 'ewma');
    expect(result).toEqual({
      ok: false,
      problems: [
        "line 1: 'ftp://x:21' must use http or https",
        'line 2: the weight must be a number > 0',
        "line 3: 'http://a:1' is listed twice",
        "line 4: 'http://a:1/' is listed twice",
        'line 5: write "url", "url weight", then zone=…, region=…, cost=… if needed',
        "line 6: 'http://[::1' is not a URL",
      ],
    });
    expect(parseLines('\n  \n', 'ewma')).toEqual({ ok: false, problems: ['a pool needs at least one backend'] });
  });

  it('round-trips what toLines writes', () => {
    const backends = [
      { url: 'http://127.0.0.1:9001', weight: 1 },
      { url: 'http://127.0.0.1:9002', weight: 2.5 },
    ];
    const result = parseLines(toLines(backends), 'ewma');
    expect(result.ok && result.body).toEqual({
      urls: backends.map((b) => b.url),
      algo: 'ewma',
      weights: { 'http://127.0.0.1:9002': 2.5 },
    });
  });

  it('reads zone, region and cost after the URL and weight, and names bad ones', () => {
    const result = parseLines('http://a:1 2 zone=eu-1a region=eu-1 cost=0.4\nhttp://b:1 cost=0\nhttp://c:1', 'ewma');
    expect(result).toEqual({
      ok: true,
      body: {
        urls: ['http://a:1', 'http://b:1', 'http://c:1'],
        algo: 'ewma',
        weights: { 'http://a:1': 2 },
        meta: { 'http://a:1': { zone: 'eu-1a', region: 'eu-1', cost: 0.4 }, 'http://b:1': { cost: 0 } },
      },
    });
    const bad = parseLines(
      'http://a:1 zone=EU\nhttp://b:1 cost=-1\nhttp://c:1 colour=red\nhttp://d:1 region=eu-1 region=eu-2\nhttp://e:1 cost=',
      'ewma',
    );
    expect(bad).toEqual({
      ok: false,
      problems: [
        'line 1: the zone must be 1–63 of a–z, 0–9 and - (not at either end)',
        'line 2: the cost must be a number ≥ 0',
        'line 3: unknown "colour=red": write zone=…, region=… or cost=…',
        'line 4: region is given twice',
        'line 5: the cost must be a number ≥ 0',
      ],
    });
  });

  it('round-trips zone, region and cost through toLines', () => {
    const backends = [
      { url: 'http://127.0.0.1:9001', weight: 3, zone: 'eu-1a', region: 'eu-1', cost: 0.25 },
      { url: 'http://127.0.0.1:9002', weight: 1, region: 'us-1' },
    ];
    expect(toLines(backends)).toBe(
      'http://127.0.0.1:9001 3 zone=eu-1a region=eu-1 cost=0.25\nhttp://127.0.0.1:9002 region=us-1',
    );
    const result = parseLines(toLines(backends), 'p2c');
    expect(result.ok && result.body.meta).toEqual({
      'http://127.0.0.1:9001': { zone: 'eu-1a', region: 'eu-1', cost: 0.25 },
      'http://127.0.0.1:9002': { region: 'us-1' },
    });
  });
});
