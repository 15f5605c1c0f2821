// The static part of each page: sections the client fills and the action forms it wires.
// Every form posts through the public API (see the client script); none submits to /ui.
import { ActionForm, DataSection } from "./layout.js";

export const NamespacesBody = () => (
  <>
    <DataSection id="namespaces" heading="Namespaces" />
    <section data-mutating data-manages-namespaces aria-labelledby="create-ns-h">
      <h2 id="create-ns-h">Create a namespace</h2>
      <ActionForm action="create-namespace" submit="Create namespace">
        <label>
          Name
          <input name="namespace" required autocomplete="off" />
        </label>
      </ActionForm>
    </section>
  </>
);

export const NamespaceBody = () => (
  <>
    <DataSection id="clusters" heading="Clusters" />
    <div class="grid" data-mutating>
      <section aria-labelledby="create-cl-h">
        <h2 id="create-cl-h">Create a cluster</h2>
        <ActionForm action="create-cluster" submit="Create cluster">
          <label>
            Name
            <input name="name" required autocomplete="off" />
          </label>
          <label>
            Nodes (host:port, one per line or comma-separated)
            <textarea name="nodes" required spellcheck={false} />
          </label>
          <div class="row">
            <label>
              Nodes per shard
              <input name="replicas" type="number" min="1" max="16" value="1" required />
            </label>
            <label>
              Password
              <input name="password" type="password" autocomplete="off" />
            </label>
          </div>
          <label class="check">
            <input type="checkbox" name="check_nodes" checked />
            Check that the nodes answer and run in cluster mode
          </label>
          <p class="hint">
            The first node of every group is the shard's master; slots are split evenly.
          </p>
        </ActionForm>
      </section>
      <section aria-labelledby="import-cl-h">
        <h2 id="import-cl-h">Import a cluster</h2>
        <ActionForm action="import-cluster" submit="Import cluster">
          <label>
            Name
            <input name="name" required autocomplete="off" />
          </label>
          <label>
            Nodes (host:port) whose own view describes the cluster
            <textarea name="nodes" required spellcheck={false} />
          </label>
          <label>
            Password
            <input name="password" type="password" autocomplete="off" />
          </label>
        </ActionForm>
      </section>
    </div>
  </>
);

export const ClusterBody = () => (
  <>
    <section aria-labelledby="summary-h">
      <h2 id="summary-h">Overview</h2>
      <div id="summary" aria-live="polite">
        <p class="muted">Loading…</p>
      </div>
    </section>
    <section aria-labelledby="stats-h">
      <h2 id="stats-h">Node statistics</h2>
      <p class="hint">
        Read from the nodes every few seconds while this page is open; the charts cover the last 5
        minutes of this page's polls. Replicas are dashed.
      </p>
      <div id="stats">
        <p class="muted">Loading…</p>
      </div>
    </section>
    <section aria-labelledby="slotmap-h">
      <h2 id="slotmap-h">Slot map</h2>
      <div class="slotmap-wrap">
        <canvas
          id="slotmap"
          width="640"
          height="640"
          tabindex={0}
          role="img"
          aria-label="Slot map, loading"
          aria-describedby="slot-help"
        />
        <div class="slot-side">
          <p id="slot-readout" aria-live="polite" />
          <p id="slot-help" class="hint">
            16384 slots, 128 per row, coloured by the shard that owns them; migrating ranges blink.
            Point at a slot, or focus the map and use the arrow keys (Page Up/Down: 8 rows).
          </p>
          <ul id="slot-legend" class="legend" />
        </div>
      </div>
    </section>
    <section aria-labelledby="shards-h">
      <h2 id="shards-h">Shards</h2>
      <p class="error" role="alert" data-errors="shards" />
      <div id="shards" class="shards">
        <p class="muted">Loading…</p>
      </div>
    </section>
    <DataSection id="tasks" heading="Migration tasks" />
    <div class="grid" data-mutating>
      <section aria-labelledby="migrate-h">
        <h2 id="migrate-h">Migrate slots</h2>
        <ActionForm action="migrate" submit="Migrate…">
          <label>
            Slot ranges (all owned by one shard), e.g. 0-99, 200
            <input name="ranges" required autocomplete="off" spellcheck={false} />
          </label>
          <label>
            Target shard
            <select name="target" data-options="shards" required />
          </label>
          <label class="check">
            <input type="checkbox" name="slot_only" />
            Slot only: move the ranges in the topology, copy no data
          </label>
        </ActionForm>
      </section>
      <section aria-labelledby="failover-h">
        <h2 id="failover-h">Fail over a shard</h2>
        <ActionForm action="failover" submit="Fail over…" danger>
          <label>
            Shard
            <select name="shard" data-options="shards" required />
          </label>
          <label>
            Preferred new master (optional)
            <select name="preferred" data-options="replicas" />
          </label>
        </ActionForm>
      </section>
      <section aria-labelledby="scale-h">
        <h2 id="scale-h">Scale out or in</h2>
        <ActionForm action="scale" submit="Plan…">
          <label>
            Shards to add: one shard per line, its nodes separated by commas (first is master)
            <textarea name="add" spellcheck={false} />
          </label>
          <div class="row">
            <label>
              Shards to remove (indexes), e.g. 3, 4
              <input name="remove" autocomplete="off" />
            </label>
            <label>
              Password of new nodes
              <input name="password" type="password" autocomplete="off" />
            </label>
          </div>
          <label class="check">
            <input type="checkbox" name="slot_only" />
            Slot only: move slots in the topology, copy no data
          </label>
          <p class="hint">The planned moves are shown before anything changes.</p>
        </ActionForm>
      </section>
      <section aria-labelledby="add-shard-h">
        <h2 id="add-shard-h">Add a shard</h2>
        <ActionForm action="add-shard" submit="Add shard">
          <label>
            Nodes (host:port; the first is the master)
            <textarea name="nodes" required spellcheck={false} />
          </label>
          <label>
            Password
            <input name="password" type="password" autocomplete="off" />
          </label>
          <p class="hint">A new shard owns no slots; migrate or scale to give it some.</p>
        </ActionForm>
      </section>
      <section aria-labelledby="add-node-h">
        <h2 id="add-node-h">Add a node</h2>
        <ActionForm action="add-node" submit="Add node">
          <div class="row">
            <label>
              Shard
              <select name="shard" data-options="shards" required />
            </label>
            <label>
              Role
              <select name="role">
                <option value="slave">replica (slave)</option>
                <option value="master">master</option>
              </select>
            </label>
          </div>
          <label>
            Address (host:port)
            <input name="addr" required autocomplete="off" spellcheck={false} />
          </label>
          <label>
            Password
            <input name="password" type="password" autocomplete="off" />
          </label>
        </ActionForm>
      </section>
      <section aria-labelledby="sync-h">
        <h2 id="sync-h">Sync topology</h2>
        <ActionForm action="sync" submit="Push topology">
          <p class="hint">Pushes the stored topology to every node of the cluster.</p>
          <label class="check">
            <input type="checkbox" name="force" />
            Force, even to nodes that report the same version
          </label>
        </ActionForm>
      </section>
    </div>
    <DataSection id="failovers" heading="Failover history" />
  </>
);

export const NodeBody = () => (
  <>
    <section aria-labelledby="node-h">
      <h2 id="node-h">Node</h2>
      <div id="node" aria-live="polite">
        <p class="muted">Loading…</p>
      </div>
    </section>
    <section data-mutating aria-labelledby="node-actions-h">
      <h2 id="node-actions-h">Actions</h2>
      <div id="node-actions">
        <p class="muted">Loading…</p>
      </div>
      <p class="error" role="alert" data-errors="node-actions" />
    </section>
    <DataSection id="node-failovers" heading="Failovers involving this node" />
  </>
);

export const MissingBody = () => (
  <section>
    <p>
      There is no console page here. <a href="/ui">Back to the namespaces</a>.
    </p>
  </section>
);
