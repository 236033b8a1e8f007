// Import progress: polls the job's JSON endpoint and moves the bar; reloads the page when the job is done.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-job-progress]");
  if (!box) return;
  const bar = box.querySelector("[data-job-bar]");
  const fill = bar.querySelector(".progress-bar");
  const status = box.querySelector("[data-job-status]");
  const texts = box.querySelector("[data-job-texts]").dataset;
  const finished = new Set(["succeeded", "rejected", "cancelled", "failed", "preview"]);
  let delay = 1000;

  const show = (job) => {
    const percent = Math.max(0, Math.min(100, job.percent));
    fill.style.width = percent + "%";
    fill.textContent = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    status.textContent = job.state === "waiting" ? texts.waiting : (job.phase === "writing" ? texts.writing : texts.checking);
  };

  const poll = async () => {
    try {
      const response = await fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const job = await response.json();
      if (finished.has(job.state)) { window.location.assign(job.url); return; }
      show(job);
      delay = 1000;
    } catch (error) {
      status.textContent = texts.offline;
      delay = Math.min(delay * 2, 15000);
    }
    setTimeout(poll, delay);
  };
  setTimeout(poll, 500);
});
