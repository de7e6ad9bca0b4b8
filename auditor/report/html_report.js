// Sorting and filtering of the findings table. Reads the rows the server rendered; never
// builds HTML from data (textContent and attributes only), so the page's CSP can forbid
// everything but this script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  const table = document.getElementById("findings");
  const body = table.tBodies[0];
  const rows = Array.from(body.querySelectorAll("tr[data-status]"));
  const headers = Array.from(table.tHead.rows[0].cells);
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const filterText = document.getElementById("filter-text");
  const filterStatus = document.getElementById("filter-status");
  const shown = document.getElementById("shown");
  let searchable = null; // lower-cased text per row, built on first search
  let sortColumn = -1;
  let ascending = true;

  function sortKey(row, column) {
    const cell = row.cells[column];
    return cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
  }

  function sortBy(column) {
    ascending = column === sortColumn ? !ascending : true;
    sortColumn = column;
    const keyed = rows.map(function (row, index) {
      return { row: row, index: index, key: sortKey(row, column) };
    });
    keyed.sort(function (a, b) {
      const order = collator.compare(a.key, b.key);
      if (order === 0) {
        return a.index - b.index; // ties keep the reading order
      }
      return ascending ? order : -order;
    });
    const fragment = document.createDocumentFragment();
    keyed.forEach(function (item) {
      fragment.appendChild(item.row);
    });
    body.appendChild(fragment);
    headers.forEach(function (header, index) {
      if (index === column) {
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      } else {
        header.removeAttribute("aria-sort");
      }
    });
  }

  function applyFilter() {
    const query = filterText.value.trim().toLowerCase();
    const status = filterStatus.value;
    if (query && searchable === null) {
      searchable = rows.map(function (row) {
        return row.textContent.toLowerCase();
      });
    }
    let count = 0;
    rows.forEach(function (row, index) {
      const visible = (!status || row.dataset.status === status) && (!query || searchable[index].includes(query));
      row.hidden = !visible;
      if (visible) {
        count += 1;
      }
    });
    shown.textContent = "Showing " + count + " of " + rows.length;
  }

  headers.forEach(function (header, index) {
    const button = header.querySelector("button.sort");
    if (button) {
      button.addEventListener("click", function () {
        sortBy(index);
      });
    }
  });

  let pending = 0;
  filterText.addEventListener("input", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(applyFilter, rows.length > 2000 ? 150 : 0);
  });
  filterStatus.addEventListener("change", applyFilter);
  applyFilter();
})();
