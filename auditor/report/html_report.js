// Sorting, filtering and paging of the findings table. It reads the rows the server rendered and
// never builds HTML from data (textContent and attributes only), so the page's CSP can forbid
// everything but this script. It runs in <head>, so the "js" class is set before the table is laid
// out and the rows the server marked "beyond" the first page stay out of a 10,000-row layout.
(function () {
  "use strict";
  const numbers = new Intl.NumberFormat("en-US");
  document.documentElement.classList.add("js");

  function start() {
    const table = document.getElementById("findings");
    const page = Number(table.dataset.page); // rows shown at once; the server hid the rest until now
    const body = table.tBodies[0];
    const headers = Array.from(table.tHead.rows[0].cells);
    const filterText = document.getElementById("filter-text");
    const filterStatus = document.getElementById("filter-status");
    const shown = document.getElementById("shown");
    const more = document.getElementById("show-more");
    const all = document.getElementById("show-all");
    const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
    let rows = Array.from(body.querySelectorAll("tr[data-status]")); // in display order
    const original = new Map(rows.map(function (row, index) { return [row, index]; }));
    let searchable = null; // row -> lower-cased text, built on the first search
    let limit = page;
    let sortColumn = -1;
    let ascending = true;

    function matches(row) {
      const query = filterText.value.trim().toLowerCase();
      const status = filterStatus.value;
      if (status && row.dataset.status !== status) {
        return false;
      }
      if (!query) {
        return true;
      }
      if (searchable === null) {
        searchable = new Map(rows.map(function (r) { return [r, r.textContent.toLowerCase()]; }));
      }
      return searchable.get(row).includes(query);
    }

    function update() {
      let matched = 0;
      rows.forEach(function (row) {
        const match = matches(row);
        row.hidden = !match;
        if (match) {
          matched += 1;
        }
        row.classList.toggle("beyond", match && matched > limit);
      });
      const visible = Math.min(matched, limit);
      let text = numbers.format(matched) + " of " + numbers.format(rows.length) + " findings";
      if (visible < matched) {
        text += " · first " + numbers.format(visible) + " shown";
      }
      shown.textContent = text;
      more.hidden = all.hidden = visible >= matched;
    }

    function sortKey(row, column) {
      const cell = row.cells[column];
      return cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
    }

    function sortBy(column) {
      ascending = column === sortColumn ? !ascending : true;
      sortColumn = column;
      const keys = new Map(rows.map(function (row) { return [row, sortKey(row, column)]; }));
      rows.sort(function (a, b) {
        const order = collator.compare(keys.get(a), keys.get(b));
        if (order === 0) {
          return original.get(a) - original.get(b); // ties keep the reading order
        }
        return ascending ? order : -order;
      });
      const fragment = document.createDocumentFragment();
      rows.forEach(function (row) { fragment.appendChild(row); });
      body.appendChild(fragment);
      headers.forEach(function (header, index) {
        if (index === column) {
          header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        } else {
          header.removeAttribute("aria-sort");
        }
      });
      update();
    }

    let pending = 0; // a debounced refilter, made moot by any other refilter
    function refilter() {
      window.clearTimeout(pending);
      limit = page;
      update();
    }

    headers.forEach(function (header, index) {
      const button = header.querySelector("button.sort");
      if (button) {
        button.addEventListener("click", function () { sortBy(index); });
      }
    });
    filterText.addEventListener("input", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(refilter, rows.length > 2000 ? 150 : 0);
    });
    filterStatus.addEventListener("change", refilter);
    more.addEventListener("click", function () { limit += page; update(); });
    all.addEventListener("click", function () { limit = Infinity; update(); });
    update();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
