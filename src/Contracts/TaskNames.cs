namespace PaliGemma2.DocPipeline.Contracts;

/// <summary>The task names every hop agrees on; queue names are <c>infer-</c> + task.</summary>
public static class TaskNames
{
    /// <summary>Table image to HTML.</summary>
    public const string Table = "table";

    /// <summary>Molecule drawing to SMILES.</summary>
    public const string Molecule = "molecule";

    /// <summary>Music score to **kern.</summary>
    public const string Score = "score";

    /// <summary>Chest radiograph to draft report.</summary>
    public const string Report = "report";

    /// <summary>Let intake choose (DICOM radiographs go to report).</summary>
    public const string Auto = "auto";

    /// <summary>Tasks that have an inference queue.</summary>
    public static readonly IReadOnlyList<string> Inference = [Table, Molecule, Score, Report];

    /// <summary>True for a task intake accepts (the inference tasks and auto).</summary>
    public static bool IsKnown(string? task) => task is not null && (task == Auto || Inference.Contains(task));

    /// <summary>The queue name of a task's inference endpoint.</summary>
    public static string QueueOf(string task) => "infer-" + task;
}
