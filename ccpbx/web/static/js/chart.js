// The live chart: callers waiting (all queues) and the service level of the current
// interval, sampled as events arrive and each few seconds, over the last hour.

const HOUR_S = 3600;

export class WaitChart {
  constructor(container, UPlot) {
    this.container = container;
    this.data = [[], [], []];
    this.plot = new UPlot(
      {
        width: this.width(),
        height: 220,
        scales: { x: { time: true, range: () => this.window() }, waiting: { auto: true, range: (u, lo, hi) => [0, Math.max(3, hi)] },
          sl: { range: [0, 100] } },
        axes: [
          {},
          { scale: "waiting", label: "waiting" },
          { scale: "sl", side: 1, label: "SL %", grid: { show: false } },
        ],
        series: [
          {},
          { label: "waiting", scale: "waiting", stroke: "#c0392b", width: 2, fill: "rgba(192,57,43,0.08)" },
          { label: "SL %", scale: "sl", stroke: "#2471a3", width: 1.5, spanGaps: true },
        ],
        legend: { live: false },
      },
      this.data,
      container,
    );
    new ResizeObserver(() => this.plot.setSize({ width: this.width(), height: 220 })).observe(container);
  }

  // Always the last hour, ending at the newest sample (or now, before any).
  window() {
    const xs = this.data[0];
    const end = xs.length ? xs[xs.length - 1] : Math.floor(Date.now() / 1000);
    return [end - HOUR_S, end];
  }

  width() {
    return Math.max(280, this.container.clientWidth);
  }

  // One sample at server time t (seconds); the same second is overwritten.
  add(t, waiting, serviceLevel) {
    const [xs, ws, sls] = this.data;
    const second = Math.floor(t);
    const sl = serviceLevel === null || serviceLevel === undefined ? null : serviceLevel * 100;
    if (xs.length && xs[xs.length - 1] === second) {
      ws[ws.length - 1] = waiting;
      sls[sls.length - 1] = sl;
    } else {
      xs.push(second);
      ws.push(waiting);
      sls.push(sl);
    }
    while (xs.length && xs[0] < second - HOUR_S) {
      xs.shift();
      ws.shift();
      sls.shift();
    }
    this.plot.setData(this.data);
  }
}
