namespace PaliGemma2.DocPipeline.Contracts;

/// <summary>Event: a document ended as <c>failed</c>; the reason is stored on its row.</summary>
public sealed record DocumentFailed
{
    /// <summary>The document.</summary>
    public required Guid DocumentId { get; init; }

    /// <summary>Human-readable reason, free of patient identifiers.</summary>
    public required string Reason { get; init; }
}
