namespace PaliGemma2.DocPipeline.Inference;

/// <summary>A checkpoint directory is missing files or does not match the PaliGemma 2 layout.</summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CheckpointException()
    {
    }

    /// <summary>Creates the exception with a message naming what is wrong.</summary>
    public CheckpointException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public CheckpointException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
