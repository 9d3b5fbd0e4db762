namespace PaliGemma2.DocPipeline.Contracts;

/// <summary>
/// Event: a document's bytes are in the blob store and its <c>documents</c> row exists.
/// Published once per new document by every intake path (folder, API, PACS, queue).
/// </summary>
public sealed record DocumentReceived
{
    /// <summary>Primary key of the <c>documents</c> row.</summary>
    public required Guid DocumentId { get; init; }

    /// <summary>Lower-case hex SHA-256 of the file; also its blob key.</summary>
    public required string Sha256 { get; init; }

    /// <summary>Task the document is routed to: table, molecule, score, report or auto.</summary>
    public required string Task { get; init; }

    /// <summary>Sniffed media type, e.g. <c>application/pdf</c>.</summary>
    public required string MediaType { get; init; }

    /// <summary>Where it came from: folder, api, pacs, queue or cli.</summary>
    public required string Source { get; init; }

    /// <summary>Original file name, kept as data only; never used to build a path.</summary>
    public string? FileName { get; init; }

    /// <summary>When the intake accepted it.</summary>
    public required DateTimeOffset ReceivedAt { get; init; }
}
