namespace PaliGemma2.DocPipeline.Contracts;

/// <summary>Event: a job's result row is stored (exactly once per job).</summary>
public sealed record ResultStored
{
    /// <summary>The <c>results</c> row.</summary>
    public required Guid ResultId { get; init; }

    /// <summary>The job it completes.</summary>
    public required Guid JobId { get; init; }

    /// <summary>The document.</summary>
    public required Guid DocumentId { get; init; }

    /// <summary>Task that produced it.</summary>
    public required string Task { get; init; }

    /// <summary>Checkpoint name that produced it.</summary>
    public required string Checkpoint { get; init; }

    /// <summary>Checkpoint version that produced it.</summary>
    public required string CheckpointVersion { get; init; }

    /// <summary>Whether the structured payload validated against its schema.</summary>
    public required bool Valid { get; init; }
}
