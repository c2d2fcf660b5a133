// The resident's routine as a picture: a week heat map (7 days x 24 hours), this week against the
// usual, with the learned bed and wake times and quiet-gap limits. Used by /zorg and /technicus.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "routine.*", then common.*.
const tRoutine = Huis.scope("routine");

const HuisRoutine = (() => {
  let data = null;
  let target = null;

  function level(v, max) {
    if (v === null || v === undefined) return "future";
    if (v <= 0 || max <= 0) return "l0";
    return "l" + Math.min(5, Math.max(1, Math.ceil((v / max) * 5)));
  }

  function minutes(m) {
    if (m === null || m === undefined) return "—";
    const h = Math.floor(m / 60), r = Math.round(m % 60);
    return h ? tRoutine("hours_minutes", { h, m: String(r).padStart(2, "0") }) : tRoutine("minutes", { m: r });
  }

  function grid(rows, kind, max) {
    const t = tRoutine;
    const g = Huis.el("div", { class: `heat ${kind}`, role: "img",
                               "aria-label": t(kind === "usual" ? "r_map_usual" : "r_map_week") });
    g.append(Huis.el("span", { class: "corner" }));
    for (let h = 0; h < 24; h++) g.append(Huis.el("span", { class: "hour", text: h % 3 === 0 ? String(h).padStart(2, "0") : "" }));
    rows.forEach((row, d) => {
      g.append(Huis.el("span", { class: "wd", text: t("d" + d) }));
      row.forEach((v, h) => {
        const usual = data.usual[d][h];
        let cls = `cell ${level(v, max)}`;
        const current = kind === "week" && data.now.weekday === d && data.now.hour === h;
        // The hour still going on is not "quieter than usual" yet.
        if (kind === "week" && v === 0 && usual >= 1 && !current) cls += " quieter";
        if (current) cls += " current";
        const title = v === null ? `${t("d" + d)} ${h}:00: ${t("r_future")}`
          : t(kind === "usual" ? "r_cell_usual" : "r_cell", { day: t("d" + d), hour: String(h).padStart(2, "0"), n: v });
        g.append(Huis.el("span", { class: cls, title, dataset: { day: d, hour: h } }));
      });
    });
    return g;
  }

  function legend() {
    const t = tRoutine;
    const scale = Huis.el("span", { class: "scale" }, ...[0, 1, 2, 3, 4, 5].map(i => Huis.el("span", { class: `cell l${i}` })));
    return Huis.el("p", { class: "legend" }, t("r_less"), scale, t("r_more"),
      Huis.el("span", { class: "cell l0 quieter" }), t("r_quieter"),
      Huis.el("span", { class: "cell future" }), t("r_future"),
      Huis.el("span", { class: "cell l2 current" }), t("r_now"));
  }

  function habitsTable() {
    const t = tRoutine;
    return Huis.el("table", { class: "habits" },
      Huis.el("thead", {}, Huis.el("tr", {}, ...["r_day", "r_bed", "r_up", "r_up_by"].map(k => Huis.el("th", { text: t(k) })))),
      Huis.el("tbody", {}, ...data.weekdays.map((w, d) => Huis.el("tr", {},
        Huis.el("th", { text: t("d" + d) }), Huis.el("td", { text: w.bed || "—" }),
        Huis.el("td", { text: w.wake || "—" }), Huis.el("td", { text: w.wake_by })))));
  }

  function quietTable() {
    const t = tRoutine;
    const parts = ["morning", "day", "evening", "night"];
    return Huis.el("table", { class: "quiet" },
      Huis.el("thead", {}, Huis.el("tr", {}, Huis.el("th", { text: t("r_part") }),
        Huis.el("th", { text: t("r_usual_gap") }), Huis.el("th", { text: t("r_limit") }))),
      Huis.el("tbody", {}, ...parts.map(p => Huis.el("tr", {}, Huis.el("th", { text: t(p) }),
        Huis.el("td", { text: minutes(data.quiet[p].longest) }), Huis.el("td", { text: minutes(data.quiet[p].limit) })))));
  }

  function render() {
    if (!target) return;
    const t = tRoutine;
    if (!data || !data.available) {
      target.replaceChildren(Huis.el("p", { class: "muted", text: t("r_none") }));
      return;
    }
    const max = Math.max(1, ...data.usual.flat(), ...data.this_week.flat().filter(v => v !== null));
    const state = data.learned ? t("r_learned", { days: data.days_known })
      : t("r_default", { days: data.days_known, need: data.learn_days });
    target.replaceChildren(
      Huis.el("p", { class: `badge ${data.learned ? "learned" : "default"}`, text: state }),
      legend(),
      Huis.el("div", { class: "heat-pair" },
        Huis.el("figure", {}, Huis.el("figcaption", { text: t("r_week") }), grid(data.this_week, "week", max)),
        Huis.el("figure", {}, Huis.el("figcaption", { text: t("r_usual") }), grid(data.usual, "usual", max))),
      Huis.el("div", { class: "routine-tables" }, habitsTable(), quietTable()));
  }

  async function mount(el) {
    target = el;
    data = await Huis.api("GET", "/api/routine");
    render();
  }

  Huis.onLang(render);
  return { mount, render, get data() { return data; } };
})();
