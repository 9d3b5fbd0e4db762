namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>One (page, task, checkpoint) unit of inference work.</summary>
public sealed class Job
{
    /// <summary>Primary key; also the idempotency key of <c>InferenceRequested</c>.</summary>
    public Guid Id { get; set; }

    /// <summary>Page to run over.</summary>
    public Guid PageId { get; set; }

    /// <summary>Document of the page (denormalised for status queries).</summary>
    public Guid DocumentId { get; set; }

    /// <summary>Task to run.</summary>
    public required string Task { get; set; }

    /// <summary>Name of the checkpoint the worker that claimed the job loaded; empty until a worker claims it.</summary>
    public string Checkpoint { get; set; } = "";

    /// <summary>Exact checkpoint version that ran it.</summary>
    public string? CheckpointVersion { get; set; }

    /// <summary>Lifecycle state.</summary>
    public JobStatus Status { get; set; }

    /// <summary>Delivery attempts seen by workers.</summary>
    public int Attempts { get; set; }

    /// <summary>Worker instance that ran it.</summary>
    public string? Worker { get; set; }

    /// <summary>When the request was queued.</summary>
    public DateTimeOffset EnqueuedAt { get; set; }

    /// <summary>When a worker started it.</summary>
    public DateTimeOffset? StartedAt { get; set; }

    /// <summary>When it ended.</summary>
    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>Readable reason when failed.</summary>
    public string? Error { get; set; }

    /// <summary>
    /// While <see cref="JobStatus.Running"/>: until when <see cref="Worker"/> holds it. The worker renews it while
    /// it decodes; once past, recovery re-queues the job (or fails it after too many attempts).
    /// </summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }
}

/// <summary>Job lifecycle; stored as lower-case text.</summary>
public enum JobStatus
{
    /// <summary>Queued on infer-&lt;task&gt;.</summary>
    Queued,
    /// <summary>A worker is running it.</summary>
    Running,
    /// <summary>Result stored.</summary>
    Done,
    /// <summary>Gave up; see the error.</summary>
    Failed,
}
