namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>A draft report sent back to PACS as a DICOM SR; unique per (result, destination).</summary>
public sealed class ReportDelivery
{
    /// <summary>Primary key.</summary>
    public Guid Id { get; set; }

    /// <summary>The report result the SR carries.</summary>
    public Guid ResultId { get; set; }

    /// <summary>Configured destination name (an Orthanc modality or a DICOMweb STOW URL alias).</summary>
    public required string Destination { get; set; }

    /// <summary>SOP Instance UID of the SR document (fixed at first attempt so retries resend the same instance).</summary>
    public required string SrSopInstanceUid { get; set; }

    /// <summary>Series Instance UID of the SR document.</summary>
    public required string SrSeriesInstanceUid { get; set; }

    /// <summary>Lifecycle state.</summary>
    public DeliveryStatus Status { get; set; }

    /// <summary>Send attempts so far.</summary>
    public int Attempts { get; set; }

    /// <summary>Last failure, readable.</summary>
    public string? LastError { get; set; }

    /// <summary>When the destination accepted it.</summary>
    public DateTimeOffset? SentAt { get; set; }

    /// <summary>When the delivery was created.</summary>
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Delivery lifecycle; stored as lower-case text.</summary>
public enum DeliveryStatus
{
    /// <summary>Not yet accepted by the destination.</summary>
    Pending,
    /// <summary>Accepted.</summary>
    Sent,
    /// <summary>Gave up after the retry budget; visible for an operator.</summary>
    Failed,
}
