// A small in-memory stand-in for the clinical API (docs/clinical.md) on top of fakeapi.mjs: one
// ward of 6 beds, 4 patients with bedside monitors, NEWS2 sets, manual observations with the
// API's validation (field, needs_confirmation), alarms of patients, assignments, flags, a
// timeline and an RPM programme. clinical-ui.test.mjs drives the console's patient pages with
// it deterministically; clinical.test.mjs tests the real binary. Not a test file itself.
import { startFake } from './fakeapi.mjs';

const readRoles = new Set(['nurse', 'clinician', 'admin']);
const writeRoles = new Set(['nurse', 'clinician']);

function band(total, red) {
  if (total >= 7) return 'HIGH';
  if (total >= 5) return 'MEDIUM';
  if (red) return 'LOW_MEDIUM';
  return 'LOW';
}

function makeSet(id, at, scores, source = 'device', missing = []) {
  const vals = Object.values(scores);
  const total = vals.reduce((a, b) => a + b, 0);
  const red = vals.some((v) => v === 3);
  const complete = missing.length === 0;
  const b = band(total, red);
  return {
    id, evaluated_at: at, set_time: at, source, scale: 1, complete, total: complete ? total : null, band: complete ? b : null,
    band_min: b, band_max: complete ? b : 'HIGH', score_min: total, score_max: complete ? total : total + 3 * missing.length,
    red_score: red, missing, scores, next_due: new Date(Date.parse(at) + 3600_000).toISOString(),
  };
}

export async function startClinicalFake() {
  const iso = (ms) => new Date(ms).toISOString();
  const now = Date.now();
  const ward = { id: 'ward-a', name: 'Ward A', beds: Array.from({ length: 6 }, (_, i) => ({ id: `ward-a-0${i + 1}`, ward: 'ward-a', label: `0${i + 1}` })) };
  const patients = new Map();
  const sets = new Map(); // patient → sets, oldest first
  const observations = new Map();
  const assignments = [];
  const names = ['Alex Doe', 'Sam Roe', 'Kim Poe', 'Lee Moe'];
  const scores = [
    { rr: 0, spo2: 0, o2: 0, sbp: 0, pulse: 0, acvpu: 0, temp: 0 },
    { rr: 1, spo2: 0, o2: 0, sbp: 0, pulse: 1, acvpu: 0, temp: 0 },
    { rr: 0, spo2: 0, o2: 0, sbp: 0, pulse: 0, acvpu: 3, temp: 0 },
    { rr: 2, spo2: 2, o2: 0, sbp: 1, pulse: 1, acvpu: 0, temp: 0 },
  ];
  names.forEach((name, i) => {
    const id = `patient-a0${i + 1}`;
    patients.set(id, {
      id, mrn: `MRN000${i + 1}`, name, birth_date: '1950-03-02', age: 76, sex: i % 2 ? 'male' : 'female', spo2_scale: 1, time_zone: 'UTC',
      encounter: { id: `enc-${i}`, patient: id, ward: 'ward-a', bed: `ward-a-0${i + 1}`, admitted: iso(now - 86400_000), discharged: null, stays: [] },
    });
    sets.set(id, [makeSet(`set-${i}-0`, iso(now - 2 * 3600_000), scores[0]), makeSet(`set-${i}-1`, iso(now - 600_000), scores[i])]);
    observations.set(id, []);
    assignments.push({ id: `asg-${i}`, device: `ward-a-bed-0${i + 1}`, patient: id, kind: 'bedside', from: iso(now - 86400_000), to: null, created_by: 'user:u_nurse', created: iso(now - 86400_000) });
  });
  // Latest vitals per device.
  const vitals = new Map();
  for (const a of assignments) {
    vitals.set(a.device, {
      hr: { value: 80, unit: '/min', t: iso(now - 5000), device: a.device, stale: false },
      spo2: { value: 97, unit: '%', t: iso(now - 5000), device: a.device, stale: false },
      rr: { value: 16, unit: '/min', t: iso(now - 5000), device: a.device, stale: false },
      nibp_sys: { value: 121, unit: 'mm[Hg]', t: iso(now - 1800_000), device: a.device, stale: false },
      nibp_dia: { value: 78, unit: 'mm[Hg]', t: iso(now - 1800_000), device: a.device, stale: false },
      temp_body: { value: 37.1, unit: 'Cel', t: iso(now - 5 * 3600_000), device: a.device, stale: true },
    });
  }
  const flags = [{
    id: 'flag-1', patient: 'patient-a02', param: 'hr_rest', code: 'PBM_HR_REST_UP', direction: 'UP', day: '2026-11-26', state: 'ALERT', value: 79, readings: 1440,
    baseline: { median: 72, mad: 1, scale: 3, n: 14, from: '2026-11-03', to: '2026-11-16' }, z: 2.3333, cusum: 6.1667, ewma: 1.5767, watch: true,
    since: '2026-11-22', days: 5, k: 0.5, h: 5,
    explanation: "Resting heart rate has been above this patient's usual level for 5 days: recent value 79 vs usual 72 (typical day-to-day variation 3); cumulative excess 6.17 SD-days (alert at 5).",
  }];
  let stationFetches = 0;
  let fake;

  const latest = (pid) => sets.get(pid).at(-1);
  const devicesOf = (pid) => assignments.filter((a) => a.patient === pid && !a.to).map((a) => a.device);
  const vitalsOf = (pid) => Object.assign({}, ...devicesOf(pid).map((d) => vitals.get(d) ?? {}));
  const brief = (p) => ({ id: p.id, name: p.name, mrn: p.mrn, birth_date: p.birth_date, age: p.age, sex: p.sex, spo2_scale: p.spo2_scale });

  const routes = async (req, res, { url, path, json, sess, send }) => {
    const base = '/api/v1/tenants/demo';
    if (!path.startsWith(base + '/wards') && !path.startsWith(base + '/patients') && !path.startsWith(base + '/rpm')
      && !path.startsWith(base + '/assignments') && path !== base + '/unassigned-devices') return false;
    const role = sess.user.role;
    if (!readRoles.has(role)) return send(res, 403, { error: 'not allowed' }), true;
    let m;
    if (path === base + '/wards') return send(res, 200, { wards: [ward, { id: 'ward-b', name: 'Ward B', beds: [] }] }), true;
    if ((m = /\/wards\/([^/]+)\/station$/.exec(path))) {
      stationFetches++;
      if (m[1] !== 'ward-a') return send(res, 200, { ward: { id: m[1], name: 'Ward B' }, now: iso(Date.now()), beds: [] }), true;
      const beds = ward.beds.map((b) => {
        const p = [...patients.values()].find((x) => x.encounter?.bed === b.id);
        if (!p) return { bed: b, patient: null, devices: [], vitals: {}, news2: null, next_due: null, overdue: false, stale: [], alarms: { open: 0, highest: null } };
        const v = vitalsOf(p.id);
        const s = latest(p.id);
        return {
          bed: b, patient: brief(p), encounter: p.encounter.id, devices: devicesOf(p.id), vitals: v, news2: s, next_due: s.next_due,
          overdue: p.id === 'patient-a04', stale: Object.keys(v).filter((k) => v[k].stale), alarms: { open: 0, highest: null },
        };
      });
      return send(res, 200, { ward: { id: 'ward-a', name: 'Ward A' }, now: iso(Date.now()), beds }), true;
    }
    if ((m = /\/patients\/([^/]+)(\/[a-z0-9]+)?$/.exec(path))) {
      const p = patients.get(decodeURIComponent(m[1]));
      if (!p) return send(res, 404, { error: 'patient not found' }), true;
      const sub = m[2] ?? '';
      if (sub === '' && req.method === 'GET') {
        return send(res, 200, {
          patient: brief(p), encounter: p.encounter, assignments: assignments.filter((a) => a.patient === p.id), vitals: vitalsOf(p.id),
          news2: latest(p.id), last_complete: latest(p.id), next_due: latest(p.id).next_due, overdue: false, flags: flags.filter((f) => f.patient === p.id),
        }), true;
      }
      if (sub === '/news2') return send(res, 200, { sets: sets.get(p.id) }), true;
      if (sub === '/flags') return send(res, 200, { flags: flags.filter((f) => f.patient === p.id) }), true;
      if (sub === '/timeline') {
        const ev = [...observations.get(p.id).map((o) => ({ t: o.entered_at, kind: 'observation', text: `Manual observation: ${Object.keys(o).filter((k) => !['id', 'patient', 'at', 'entered_at', 'entered_by'].includes(k)).join(', ')}`, ref: o.id })),
          { t: p.encounter.admitted, kind: 'admit', text: `Admitted to Ward A bed ${p.encounter.bed.slice(-2)}`, ref: p.encounter.id }];
        return send(res, 200, { events: ev }), true;
      }
      if (sub === '/readings') {
        const metric = url.searchParams.get('metric');
        const from = Date.parse(url.searchParams.get('from') ?? iso(Date.now() - 3600_000));
        const to = Date.parse(url.searchParams.get('to') ?? iso(Date.now()));
        const pts = [];
        for (let t = Math.ceil(from / 60000) * 60000; t <= to && pts.length < 2000; t += 60000) pts.push({ t: iso(t), v: metric === 'temp_body' ? 37 : 80 + 5 * Math.sin(t / 600000) });
        if (url.searchParams.get('step')) return send(res, 200, { metric, unit: '', buckets: pts.map((x) => ({ t: x.t, min: x.v, max: x.v, mean: x.v, count: 1 })) }), true;
        return send(res, 200, { metric, unit: '', points: pts }), true;
      }
      if (sub === '/observations' && req.method === 'POST') {
        if (!writeRoles.has(role)) return send(res, 403, { error: 'not allowed' }), true;
        const manual = { rr: [0, 80], spo2: [0, 100], sbp: [0, 300], pulse: [0, 300], temp: [20, 45] };
        const device = { rr: [2, 80], spo2: [50, 100], sbp: [40, 300], pulse: [20, 300], temp: [25, 45] };
        for (const [k, [lo, hi]] of Object.entries(manual)) {
          if (json[k] === undefined) continue;
          if (typeof json[k] !== 'number' || json[k] < lo || json[k] > hi) return send(res, 400, { error: `${k} ${json[k]} is outside ${lo}–${hi}`, field: k }), true;
          const [dl, dh] = device[k];
          if ((json[k] < dl || json[k] > dh) && !json.confirmed) {
            return send(res, 400, { error: `${k} ${json[k]} is outside the usual range ${dl}–${dh}: confirm it`, field: k, needs_confirmation: true }), true;
          }
        }
        if (json.acvpu === 'C' && !json.new_confusion_confirmed) return send(res, 400, { error: 'acvpu C needs new_confusion_confirmed', field: 'new_confusion_confirmed' }), true;
        const o = { id: `obs-${Date.now()}`, patient: p.id, at: json.at ?? iso(Date.now()), entered_at: iso(Date.now()), entered_by: sess.user.id, ...json };
        observations.get(p.id).unshift(o);
        const prev = latest(p.id).scores;
        const sc = { ...prev };
        if (json.acvpu) sc.acvpu = json.acvpu === 'A' ? 0 : 3;
        if (json.sbp !== undefined) sc.sbp = json.sbp <= 90 ? 3 : json.sbp <= 100 ? 2 : json.sbp <= 110 ? 1 : 0;
        if (json.o2) sc.o2 = json.o2 === 'OXYGEN' ? 2 : 0;
        const set = makeSet(`set-m-${Date.now()}`, iso(Date.now()), sc, 'manual');
        sets.get(p.id).push(set);
        return send(res, 201, { observation: o, set }), true;
      }
    }
    if (path === base + '/unassigned-devices') return send(res, 200, { devices: [{ id: 'spare-monitor', kind: 'monitor', model: 'SimMonitor MP4', last_seen: iso(Date.now()) }] }), true;
    if (path === base + '/rpm/programmes') return send(res, 200, { programmes: [{ id: 'hf-home', name: 'Heart failure at home', condition: 'I50.9', time_zone: 'UTC' }] }), true;
    if (path === base + '/rpm/programmes/hf-home/roster') {
      return send(res, 200, {
        programme: { id: 'hf-home', name: 'Heart failure at home' }, as_of: iso(Date.now()).slice(0, 10),
        rows: [
          { enrolment: 'enr-1', patient: { id: 'patient-h01', name: 'Hana Home', mrn: 'H0001' }, period: { n: 1, start: '2026-11-05', end: '2026-12-04', day: 23 },
            days: 17, adherence_pct: 73.9, status: 'MET_16', projection: 'MET', device_code: '99454', last_reading: iso(Date.now() - 3600_000), longest_gap: 1,
            review_minutes_this_month: 21, interactive_this_month: true, open_flags: 1, flags: ['PBM_WEIGHT_UP'] },
          { enrolment: 'enr-2', patient: { id: 'patient-h02', name: 'Ian Home', mrn: 'H0002' }, period: { n: 1, start: '2026-11-10', end: '2026-12-09', day: 18 },
            days: 6, adherence_pct: 33.3, status: 'RANGE_2_15', projection: 'AT_RISK', device_code: null, last_reading: iso(Date.now() - 4 * 86400_000), longest_gap: 4,
            review_minutes_this_month: 0, interactive_this_month: false, open_flags: 0, flags: [] },
        ],
      }), true;
    }
    return false;
  };

  fake = await startFake({ routes });
  return {
    ...fake,
    get stationFetches() {
      return stationFetches;
    },
    // newSet stores a NEWS2 set for a patient (as the processor would).
    newSet(pid, sc) {
      const s = makeSet(`set-x-${Date.now()}`, iso(Date.now()), sc);
      sets.get(pid).push(s);
      return s;
    },
    // reading sends a reading event from a device (the stream's shape).
    reading(device, metric, value, unit = '') {
      const t = Date.now();
      const v = vitals.get(device);
      if (v) v[metric] = { value, unit, t: iso(t), device, stale: false };
      fake.emit('reading', { readings: [{ device, subject: 'ingest-subject-' + device, metric, value, unit, time: t }] });
    },
  };
}
