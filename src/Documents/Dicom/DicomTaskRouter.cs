namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>Where <c>task=auto</c> sends a DICOM image, and why.</summary>
/// <param name="Task">The task name ("report"), or null when no task fits.</param>
/// <param name="Reason">Why, safe to store on the document.</param>
public sealed record DicomRoute(string? Task, string Reason);

/// <summary>Chooses the task for DICOM input when the caller asked for <c>task=auto</c>.</summary>
public static class DicomTaskRouter
{
    /// <summary>The report task's name (queue <c>infer-report</c>).</summary>
    public const string ReportTask = "report";

    private const string CrStorage = "1.2.840.10008.5.1.4.1.1.1";
    private const string DxForPresentation = "1.2.840.10008.5.1.4.1.1.1.1";
    private const string DxForProcessing = "1.2.840.10008.5.1.4.1.1.1.1.1";

    /// <summary>
    /// CR and DX radiographs (DX for presentation and for processing) go to <c>report</c>; anything
    /// else gets no task and a reason. Modality decides; the SOP class is the fallback when
    /// Modality is missing.
    /// </summary>
    public static DicomRoute RouteAuto(DicomHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (!header.HasPixelData)
        {
            return new DicomRoute(null, "no image pixel data");
        }

        var modality = header.Modality.Trim().ToUpperInvariant();
        var sop = header.SopClassUid;
        if (modality is "CR" or "DX" || (modality.Length == 0 && sop is CrStorage or DxForPresentation or DxForProcessing))
        {
            var kind = sop switch
            {
                DxForPresentation => "DX for presentation",
                DxForProcessing => "DX for processing",
                CrStorage => "CR",
                _ => modality.Length > 0 ? modality : "radiograph",
            };
            return new DicomRoute(ReportTask, $"{kind} radiograph");
        }

        var shown = modality.Length > 0 ? modality : "unknown";
        return new DicomRoute(null, $"modality {shown} has no automatic task (only CR/DX radiographs go to '{ReportTask}')");
    }
}
