namespace PaliGemma2.DocPipeline.Storage.Entities;

/// <summary>How far an intake feed (e.g. Orthanc's <c>/changes</c>) has been read, so a restart resumes there.</summary>
public sealed class IntakeCursor
{
    /// <summary>Feed name, e.g. <c>orthanc:http://pacs:8042/</c>.</summary>
    public required string Name { get; set; }

    /// <summary>Last sequence number fully handled.</summary>
    public long Position { get; set; }

    /// <summary>When it last moved.</summary>
    public DateTimeOffset UpdatedAt { get; set; }
}
