namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>One PDF page, image or DICOM frame of a document. Unique on (document, index).</summary>
public sealed class Page
{
    /// <summary>Primary key.</summary>
    public Guid Id { get; set; }

    /// <summary>Owning document.</summary>
    public Guid DocumentId { get; set; }

    /// <summary>Zero-based page or frame index.</summary>
    public int Index { get; set; }

    /// <summary>Prepared image width in pixels.</summary>
    public int Width { get; set; }

    /// <summary>Prepared image height in pixels.</summary>
    public int Height { get; set; }

    /// <summary>Checkpoint input resolution the image was prepared for (its long side is at most this); 0 when unknown.</summary>
    public int Resolution { get; set; }

    /// <summary>Blob key of the prepared image (PNG).</summary>
    public required string ImageBlobKey { get; set; }

    /// <summary>JSON text layer of born-digital PDFs: page size in points and words with boxes.</summary>
    public string? TextLayer { get; set; }

    /// <summary>Jobs that run a checkpoint over this page.</summary>
    public List<Job> Jobs { get; } = [];
}
