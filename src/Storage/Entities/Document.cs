namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>A file accepted by intake. Unique on (<see cref="Sha256"/>, <see cref="Task"/>).</summary>
public sealed class Document
{
    /// <summary>Primary key.</summary>
    public Guid Id { get; set; }

    /// <summary>Lower-case hex SHA-256 of the bytes; also the blob key of the original file.</summary>
    public required string Sha256 { get; set; }

    /// <summary>Original name, kept as data only.</summary>
    public string? FileName { get; set; }

    /// <summary>Sniffed media type.</summary>
    public required string MediaType { get; set; }

    /// <summary>Intake path: folder, api, pacs, queue, cli.</summary>
    public required string Source { get; set; }

    /// <summary>Task the document was submitted for.</summary>
    public required string Task { get; set; }

    /// <summary>Lifecycle state.</summary>
    public DocumentStatus Status { get; set; }

    /// <summary>Readable reason when <see cref="Status"/> is failed or partial.</summary>
    public string? Error { get; set; }

    /// <summary>
    /// Code of the failure reason from the reasons table (Documents/Reasons.cs), so SQL can group documents by
    /// why they failed; <see cref="Error"/> is the specific sentence. Warnings are in metadata.warnings.
    /// </summary>
    public string? ReasonCode { get; set; }

    /// <summary>When intake accepted it.</summary>
    public DateTimeOffset ReceivedAt { get; set; }

    /// <summary>Size of the file in bytes.</summary>
    public long SizeBytes { get; set; }

    /// <summary>
    /// DICOM SOP Instance UID when the file is DICOM; unique with <see cref="Task"/>, so the same instance
    /// re-sent by a PACS (even re-encoded, with other bytes) is one document.
    /// </summary>
    public string? SopInstanceUid { get; set; }

    /// <summary>JSON object: PDF page count and producer, DICOM UIDs and image attributes.</summary>
    public string? Metadata { get; set; }

    /// <summary>
    /// While <see cref="DocumentStatus.Preparing"/>: until when the preparing worker holds it (renewed while it
    /// renders); once past, recovery announces the document again (or fails it after too many attempts). While
    /// <see cref="DocumentStatus.Received"/> after such an announcement: not announced again before then.
    /// </summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>How many times preparation started on it.</summary>
    public int PrepareAttempts { get; set; }

    /// <summary>Pages (PDF pages, one for an image, DICOM frames).</summary>
    public List<Page> Pages { get; } = [];
}

/// <summary>Document lifecycle; stored as lower-case text.</summary>
public enum DocumentStatus
{
    /// <summary>Stored, waiting for preparation.</summary>
    Received,
    /// <summary>Preparation started.</summary>
    Preparing,
    /// <summary>Every page has a queued job.</summary>
    Queued,
    /// <summary>Every job has a result.</summary>
    Done,
    /// <summary>Nothing could be done; see the error.</summary>
    Failed,
    /// <summary>Some pages failed.</summary>
    Partial,
}
